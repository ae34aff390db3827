"""The providers' daily statements, read into what reconciliation compares (docs/booth.md,
"Daily reconciliation"; the formats: docs/payments-providers.md).

- WeChat Pay tradebill (bill_type ALL): UTF-8 CSV, a header line, one row per payment or refund
  with every field prefixed by a backquote, then a summary header and its line. A payment is a
  row whose 交易状态 is SUCCESS; its amount is 订单金额 (yuan text).
- Alipay 业务明细: a zip holding a GBK CSV: `#` lines, the column line, a row per 交易 (payment)
  or 退款 (refund), `#` totals. A payment's amount is 订单金额（元）.

Amounts are read digit by digit into fen (`shared.money.parse_yuan`), never through a float. A
statement that does not look like its format is a ValueError (reconciliation reports it rather
than finding every payment missing).
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass

from chalicelib.shared.money import parse_yuan


@dataclass(frozen=True)
class StatementPayment:
    out_trade_no: str  # our payment id
    provider_txn_id: str
    amount_fen: int


WECHAT_COLUMNS = ("交易时间", "商户订单号", "微信订单号", "交易状态", "订单金额")
ALIPAY_COLUMNS = ("支付宝交易号", "商户订单号", "业务类型", "订单金额（元）")


def _index(header: list[str], wanted: tuple[str, ...], what: str) -> dict[str, int]:
    cells = [cell.strip().lstrip("\ufeff") for cell in header]
    missing = [name for name in wanted if name not in cells]
    if missing:
        raise ValueError(f"{what}: no column {', '.join(missing)}")
    return {name: cells.index(name) for name in wanted}


def wechat_payments(content: bytes) -> list[StatementPayment]:
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    if not rows:
        raise ValueError("WeChat Pay tradebill: empty")
    at = _index(rows[0], WECHAT_COLUMNS, "WeChat Pay tradebill")
    found: list[StatementPayment] = []
    for row in rows[1:]:
        if not row or row[0].lstrip("`").startswith("总交易单数"):
            break  # the summary lines
        cells = [cell.removeprefix("`") for cell in row]
        if cells[at["交易状态"]] != "SUCCESS":
            continue  # refunds (REFUND) are rows of their own
        found.append(
            StatementPayment(
                cells[at["商户订单号"]],
                cells[at["微信订单号"]],
                parse_yuan(cells[at["订单金额"]], "订单金额"),
            )
        )
    return found


def alipay_payments(content: bytes) -> list[StatementPayment]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = [n for n in archive.namelist() if n.endswith(".csv") and "汇总" not in n]
        if not names:
            raise ValueError("Alipay bill: no details CSV in the zip")
        text = archive.read(names[0]).decode("gbk")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    if not lines:
        raise ValueError("Alipay bill: no column line")
    rows = list(csv.reader(lines))
    at = _index(rows[0], ALIPAY_COLUMNS, "Alipay bill")
    found: list[StatementPayment] = []
    for row in rows[1:]:
        cells = [cell.strip() for cell in row]
        if cells[at["业务类型"]] != "交易":
            continue  # 退款 rows carry negative amounts
        found.append(
            StatementPayment(
                cells[at["商户订单号"]],
                cells[at["支付宝交易号"]],
                parse_yuan(cells[at["订单金额（元）"]], "订单金额"),
            )
        )
    return found
