"""One complaint per grievance in a conversation: the same complaint asked for again joins the one recorded."""

from __future__ import annotations

from tests.unit.test_care_gap_dialog import Records, _talk

ASK = "我要投诉，莫名其妙扣了我10元的音乐包"


def test_the_same_complaint_asked_for_twice_in_a_conversation_is_recorded_once() -> None:
    data = Records()
    first, _, again, _ = _talk(data, [ASK, "是的", ASK, "是的"])
    assert first.action == "complaint_recorded" and first.reference == "cmp-1"
    assert len(data.complaints) == 1 and data.complaints[0][1].category == "unexplained_charge"
    assert again.action == "complaint_already_recorded" and again.reference == "cmp-1"
    assert again.data == {"complaint_id": "cmp-1", "category": "unexplained_charge", "already_recorded": True}
    assert "cmp-1" in again.text and "已登记" in again.text


def test_a_complaint_of_another_category_in_the_same_conversation_is_its_own() -> None:
    data = Records()
    charge, network = _talk(data, [ASK, "我要投诉，信号太差了"])
    assert charge.action == "complaint_recorded" and network.action == "complaint_recorded"
    assert [c.category for _, c in data.complaints] == ["unexplained_charge", "network_quality"]
