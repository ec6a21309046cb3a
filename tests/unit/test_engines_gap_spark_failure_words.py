"""A Spark job that failed (a master not reached, a task's Python worker crashed) printed the JVM's stack, hundreds
of lines, where every other failure of `fairtel rate` is one line with its code: it is now ``engine_failed`` with
the first line of Spark's error. Errors that are not Spark's are left as they are."""

from __future__ import annotations

from fairtel.engines._spark import engine_failure


def _spark_error(text: str) -> Exception:
    kind = type("Py4JJavaError", (Exception,), {"__module__": "py4j.protocol"})
    return kind(text)


def test_a_spark_error_is_one_line_with_its_code() -> None:
    failed = engine_failure(_spark_error("\n  An error occurred while calling o41.collectToPython.\n"
                                         "  at org.apache.spark.scheduler.DAGScheduler...\n" * 40))
    assert failed is not None and failed.code == "engine_failed"
    assert "An error occurred while calling o41.collectToPython." in failed.message and "\n" not in failed.message
    assert "DAGScheduler" not in failed.message and failed.details == {"error": "Py4JJavaError"}


def test_other_errors_are_not_taken_for_spark_ones() -> None:
    assert engine_failure(ValueError("a bug")) is None
    assert engine_failure(KeyError("x")) is None
