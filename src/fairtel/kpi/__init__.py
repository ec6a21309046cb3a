"""kpi: service indicators computed from complaints, surveys, the assistant's log, findings, refunds and
rating. See README.md in this folder."""

from fairtel.kpi._service import (
    TIMELINESS_WINDOW,
    UNEXPLAINED_CHARGE_REFERENCE,
    UNEXPLAINED_FINDINGS,
    ComplaintFact,
    FindingFact,
    KpiInputs,
    KpiReport,
    RefundFact,
    assistant_figures,
    charge_figures,
    complaint_rates,
    compute_kpis,
    per_million,
    rating_timeliness,
    share,
    sla_attainment,
)

__all__ = [
    "TIMELINESS_WINDOW",
    "UNEXPLAINED_CHARGE_REFERENCE",
    "UNEXPLAINED_FINDINGS",
    "ComplaintFact",
    "FindingFact",
    "KpiInputs",
    "KpiReport",
    "RefundFact",
    "assistant_figures",
    "charge_figures",
    "complaint_rates",
    "compute_kpis",
    "per_million",
    "rating_timeliness",
    "share",
    "sla_attainment",
]
