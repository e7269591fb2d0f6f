"""Text files in UTF-8, UTF-8 with BOM, GBK and GB18030 are detected, read right, overridable."""

from __future__ import annotations

import pytest
from ingest_files import assert_balanced, write_csv

from clm.config import IngestConfig, ProjectConfig
from clm.errors import DataFileError
from clm.ingest import import_file
from clm.ingest.encoding import prepare_text

HEADER = ("客户ID", "姓名", "行业")
ROWS = [("C1", "张三", "零售"), ("C2", "李四", "金融")]
# 㐀 (U+3400, CJK extension A) exists in GB18030 but not in GBK.
ROWS_18030 = [*ROWS, ("C3", "王㐀", "教育")]


@pytest.mark.parametrize(
    ("encoding", "rows"),
    [("utf-8", ROWS), ("utf-8-sig", ROWS), ("gbk", ROWS), ("gb18030", ROWS_18030)],
)
def test_encoding_is_detected_and_chinese_text_survives(tmp_path, warehouse, encoding, rows):
    path = write_csv(tmp_path / "customers.csv", HEADER, rows, encoding=encoding)

    report = import_file(path, table="customers", warehouse=warehouse, config=ProjectConfig())

    assert report.encoding == encoding
    assert_balanced(report)
    assert report.imported == len(rows)
    stored = warehouse.table("customers").order_by("customer_id").execute()
    assert list(stored["name"]) == [r[1] for r in rows]
    assert list(stored["industry"]) == [r[2] for r in rows]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "gb18030"])
def test_configured_encoding_overrides_detection(tmp_path, warehouse, encoding):
    path = write_csv(tmp_path / "customers.csv", HEADER, ROWS, encoding=encoding)
    config = ProjectConfig(ingest=IngestConfig(encoding=encoding))

    report = import_file(path, table="customers", warehouse=warehouse, config=config)

    assert report.encoding == encoding
    assert report.imported == 2


def test_gbk_file_forced_as_utf8_fails_naming_file_and_line(tmp_path, warehouse):
    path = write_csv(tmp_path / "customers.csv", ("customer_id", "name"),
                     [("C1", "Ann"), ("C2", "张三")], encoding="gbk")
    config = ProjectConfig(ingest=IngestConfig(encoding="utf-8"))

    with pytest.raises(DataFileError) as info:
        import_file(path, table="customers", warehouse=warehouse, config=config)

    assert "customers.csv" in str(info.value)
    assert info.value.context["line"] == 3


def test_pure_ascii_file_counts_as_utf8(tmp_path):
    path = write_csv(tmp_path / "c.csv", ("customer_id",), [("C1",)], encoding="ascii")

    text = prepare_text(path, workdir=tmp_path)

    assert (text.encoding, text.path, text.lines) == ("utf-8", path, 2)


def test_transcoded_copy_is_utf8_and_keeps_line_count(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes("客户ID\nC1\nC2\n\n\n".encode("gbk"))

    text = prepare_text(path, workdir=tmp_path / "")

    assert text.encoding == "gbk"
    assert text.path != path
    assert text.path.read_text("utf-8") == "客户ID\nC1\nC2\n\n\n"
    assert text.lines == 3  # trailing blank lines are not counted


def test_bytes_valid_in_no_supported_encoding_are_a_data_file_error(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"customer_id\nC1\n\xff\xff\xff\n")

    with pytest.raises(DataFileError, match="neither UTF-8 nor GB18030"):
        prepare_text(path, workdir=tmp_path)
