"""A catalog problem or warning in Chinese (``problem_zh``), for ``catalog validate``'s ``message_zh``.

The messages are written in English where they are found; the common ones are rendered here whole, the others
by what their code means, followed by the English text (which names the ids and values).
"""

from __future__ import annotations

import re

from fairtel.core.errors import Problem

_WHAT = {
    "zone": "区域", "roaming zone": "漫游区", "band": "时段", "rate": "费率", "rule set": "规则集", "plan": "套餐",
    "offer": "增值业务", "rule": "规则", "allowance": "套餐内额度", "prefix": "号段", "country": "国家",
}

# what each code means, for a message without a rendering of its own
_CODE = {
    "toml_syntax": "TOML 语法错误", "file_not_found": "找不到文件", "file_unreadable": "无法读取文件",
    "wrong_type": "类型错误", "invalid_value": "取值无效", "missing_key": "缺少必填项", "unknown_key": "未知的键",
    "unknown_reference": "引用了未定义的编号", "duplicate_id": "编号重复", "bad_id": "编号格式无效",
    "bad_prefix": "号段无效", "duplicate_prefix": "号段重复", "bad_country": "国家代码无效",
    "duplicate_country": "国家重复", "duplicate_fallback": "兜底区域不止一个", "bad_currency": "币种无效",
    "bad_timezone": "时区无效", "bad_time": "时间无效", "bad_day": "星期无效", "band_overlap": "时段重叠",
    "band_gap": "时段未覆盖整周", "bad_steps": "费率阶梯有误", "bad_quantity": "数量无效",
    "negative_amount": "金额为负数", "too_precise": "金额小数位过多", "rounding_too_fine": "舍入精度过细",
    "unit_mismatch": "计量单位不一致", "unreachable_rule": "规则永远不会生效",
    "roaming_rule_gap": "漫游区缺少计费规则", "no_effect": "设置不起作用",
}


def _what(text: str) -> str:
    return _WHAT.get(text, text)


def _render(p: Problem) -> str | None:
    m = p.message
    if p.code == "unknown_reference":
        r = re.fullmatch(r"unknown ([a-z ]+) '(.+?)'(?: \(did you mean '(.+)'\?\))?", m)
        if r:
            near = f"（是否应为“{r.group(3)}”？）" if r.group(3) else ""
            return f"未定义的{_what(r.group(1))}“{r.group(2)}”{near}"
        r = re.fullmatch(r"unknown ([a-z ]+) '(.+?)': it is declared(?: at line (\d+))? under \[\[(.+?)\]\], which is "
                         r"not a catalog table \(did you mean \[\[(.+)\]\]\?\)", m)
        if r:
            at = f"第 {r.group(3)} 行" if r.group(3) else ""
            return (f"未定义的{_what(r.group(1))}“{r.group(2)}”：它声明在{at}的 [[{r.group(4)}]] 下，而目录没有这张表"
                    f"（是否应为 [[{r.group(5)}]]？）")
        r = re.fullmatch(r"unknown ([a-z ]+) '(.+?)': no [a-z ]+ has this id; (.+): was one of them meant to be '.+'\?", m)
        if r:
            twice = re.sub(r"([a-z ]+) id '(.+?)' is declared (twice|\d+ times) \(lines (.+?)\)",
                           lambda d: f"{_what(d.group(1))}编号“{d.group(2)}”声明了"
                                     f"{'两' if d.group(3) == 'twice' else d.group(3).split()[0] + ' '}次（第 {d.group(4)} 行）",
                           r.group(3))
            return (f"未定义的{_what(r.group(1))}“{r.group(2)}”：没有这个编号；{twice}"
                    f"——其中一个是否本应是“{r.group(2)}”？")
    if p.code == "duplicate_id":
        r = re.fullmatch(r"duplicate ([a-z ]+) id '(.+?)' \(first at (.+)\)", m)
        if r:
            return f"{_what(r.group(1))}编号“{r.group(2)}”重复（首次出现在 {r.group(3)}）"
    if p.code == "unknown_key":
        r = re.fullmatch(r"unknown key '(.+?)' \((?:did you mean '(.+)'\?|allowed: (.+))\)", m)
        if r:
            return f"未知的键“{r.group(1)}”" + (f"（是否应为“{r.group(2)}”？）" if r.group(2) else f"（可用的键：{r.group(3)}）")
    if p.code == "missing_key":
        r = re.fullmatch(r"missing key '(.+?)'(.*)", m)
        if r:
            return f"缺少键“{r.group(1)}”" + (f"（{r.group(2).strip(' ()')}）" if r.group(2).strip() else "")
    if p.code == "unreachable_rule":
        r = re.fullmatch(r"rule '(.+?)' never applies: rule '(.+?)' before it(?: \(line (\d+)\))? .*", m)
        if r:
            at = f"（第 {r.group(3)} 行）" if r.group(3) else ""
            return (f"规则“{r.group(1)}”永远不会生效：它之前的规则“{r.group(2)}”{at}匹配它所匹配的全部用量，总是先被选中；"
                    "请缩小前一条规则的条件，或把这条规则移到它之前")
    if p.code == "roaming_rule_gap":
        r = re.fullmatch(r"plan '(.+?)' has no rule for (.+) while roaming in roaming zone '(.+?)' \((.+)\), which it "
                         r"prices in (.+?): .*", m)
        if r:
            where = re.sub(r"; line (\d+)$", r"；第 \1 行", r.group(4)).replace(
                "every country no other roaming zone lists", "其他漫游区未列出的所有国家").replace(" and ", " 及")
            return (f"套餐“{r.group(1)}”在漫游区“{r.group(3)}”（{where}）没有 {r.group(2)} 的计费规则，而它在 "
                    f"{r.group(5)} 对这些用量计费：在这些国家的此类用量将无法计费（no_rule）；请为“{r.group(3)}”添加规则，"
                    "或把它加入现有规则的 roaming_zones")
    if p.code == "no_effect" and m.startswith("a free rule charges nothing"):
        return "免费规则不收费：它的 daily_cap（每日封顶）不起作用（是否本应设置费率 rate 而不是 free = true？）"
    if p.code == "no_effect" and "includes nothing" in m:
        r = re.fullmatch(r"an allowance of (.+?) includes nothing.*", m)
        amount = r.group(1) if r else "0"
        return f"额度为 {amount} 的套餐内额度不包含任何用量：用量照常计费（数量是否写错？）"
    if p.code == "negative_amount":
        r = re.fullmatch(r"a price cannot be negative, got (.+)", m)
        if r:
            return f"价格不能为负数，实际为 {r.group(1)}"
    return None


def problem_zh(problem: Problem) -> str:
    """``problem.message`` in Chinese: whole for the common messages; otherwise what its code means, then the
    English message (the ids and values it names)."""
    rendered = _render(problem)
    if rendered is not None:
        return rendered
    return f"{_CODE.get(problem.code, '目录有误')}：{problem.message}"
