"""How a record reads in the cashier's export (domain.md §2.1): pure, from the record's JSON view."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from chalicelib.shared.money import format_yuan

CSV_HEADER = (
    "车牌 plate",
    "入场 entry",
    "出场 exit",
    "时长 duration",
    "应收 fee",
    "实收 paid",
    "方式 method",
    "备注 remark",
)
TYPE_LABELS = {
    "inside": "在场",
    "exited": "出场",
    "abnormal_entry": "异常进场",
    "unmatched_exit": "无入场记录",
    "abnormal_release": "异常放行",
    "non_system_opening": "非系统开闸",
    "abnormal_capture": "异常拍照",
    "correction": "校正",
    "manual_match": "人工匹配",
    "stale_closed": "人工结束",
    "arrears": "欠费",
}


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def local(at: datetime | None, zone: tzinfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if at is not None else ""


def duration(entered: datetime | None, exited: datetime | None) -> str:
    """A stay as hours and minutes, e.g. 2:05 (started minutes are not rounded up here)."""
    if entered is None or exited is None or exited < entered:
        return ""
    minutes = int((exited - entered).total_seconds() // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def method(paid_fen: int, cash_fen: int, total_fen: int, status: str) -> str:
    """How the stay was paid, as a cashier names it."""
    online = max(0, paid_fen - cash_fen)
    if paid_fen <= 0:
        if status == "released":
            return "异常放行"
        return "免费" if total_fen == 0 else "减免"
    if cash_fen and online:
        return "现金+线上"
    return "现金" if cash_fen else "线上支付"


def csv_row(row: dict[str, Any], zone: tzinfo) -> list[str]:
    detail = row.get("detail") or {}
    kind = str(row.get("type") or "")
    if kind in ("inside", "exited"):
        entered, exited = _instant(detail.get("entered_at")), _instant(detail.get("exited_at"))
        total, paid = int(detail.get("total_fen") or 0), int(detail.get("paid_fen") or 0)
        cash_fen = int(detail.get("cash_fen") or 0)
        remark = detail.get("exit_remark") or detail.get("entry_remark") or ""
        return [
            str(row.get("plate") or ""),
            local(entered, zone),
            local(exited, zone),
            duration(entered, exited),
            format_yuan(total),
            format_yuan(paid),
            method(paid, cash_fen, total, str(detail.get("status") or "")) if exited else "",
            str(remark),
        ]
    at = _instant(row.get("created_at"))
    entered = _instant(detail.get("entered_at"))
    fee = detail.get("fee_fen")
    cash = detail.get("cash_fen")
    label = TYPE_LABELS.get(kind, kind)
    reason = detail.get("reason")
    return [
        str(row.get("plate") or ""),
        local(entered, zone),
        local(at, zone),
        duration(entered, at) if entered else "",
        format_yuan(int(fee)) if isinstance(fee, int) else "",
        format_yuan(int(cash)) if isinstance(cash, int) else "",
        "现金" if isinstance(cash, int) and cash else "",
        f"{label}: {reason}" if reason else label,
    ]
