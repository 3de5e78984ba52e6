"""Reading the shop's purchases CSV: encoding, delimiter, header, (line number, row) pairs."""
from __future__ import annotations

import csv
import io
import os
from typing import IO, Any, Optional, Union

COLUMNS = ("order_id", "vk_id", "email", "phone", "product_id", "amount_rub", "paid_at")
REQUIRED_COLUMNS = ("order_id", "product_id", "amount_rub", "paid_at")
BUYER_COLUMNS = ("vk_id", "email", "phone")


def read_text(path_or_stream: Union[str, os.PathLike[str], IO[Any]]) -> str:
    if isinstance(path_or_stream, (str, os.PathLike)):
        with open(path_or_stream, "rb") as fh:
            data: Union[str, bytes] = fh.read()
    else:
        data = path_or_stream.read()
    if isinstance(data, bytes):
        data = data.decode("utf-8-sig")  # UnicodeDecodeError is reported by import_csv
    return data.removeprefix("\ufeff")


def csv_rows(text: str) -> tuple[list[tuple[int, dict[str, str]]], Optional[str]]:
    """(line number, row) pairs of a CSV text with a header, or an error about the header."""
    header_line = next((ln for ln in text.splitlines() if ln.strip()), "")
    if not header_line:
        return [], "line 1: empty file (a header row is required)"
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: Optional[list[str]] = None
    rows: list[tuple[int, dict[str, str]]] = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        if header is None:
            header = [v.strip().lower().removeprefix("\ufeff") for v in values]
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if not any(c in header for c in BUYER_COLUMNS):
                missing.append("vk_id or email or phone")
            if missing:
                return [], (f"line {reader.line_num}: missing columns: {', '.join(missing)} "
                            f"(expected header {','.join(COLUMNS)})")
            continue
        row = {name: value for name, value in zip(header, values, strict=False) if name in COLUMNS}
        rows.append((reader.line_num, row))
    return rows, None
