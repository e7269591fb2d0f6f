import datetime as dt

import pytest

from clm.errors import DataFileError, InputError, ModelFitError
from clm.services.value_fit import fit_value_model, read_cohort, read_orders

AS_OF = dt.date(2024, 12, 31)


def _write(tmp_path, text, name="orders.csv"):
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_missing_column_names_file_and_column(tmp_path):
    path = _write(tmp_path, "customer_id,amount\na,1\n")
    with pytest.raises(DataFileError, match=r"orders\.csv: required column ordered_at is missing"):
        read_orders(path)


def test_bad_amount_names_file_line_and_field(tmp_path):
    path = _write(tmp_path, "customer_id,ordered_at,amount\na,2024-01-01,1\nb,2024-01-02,abc\n")
    with pytest.raises(InputError, match=r"orders\.csv line 3, field amount: not a number"):
        read_orders(path)


def test_negative_amount_names_the_line(tmp_path):
    path = _write(tmp_path, "customer_id,ordered_at,amount\na,2024-01-01,-4\n")
    with pytest.raises(InputError, match="line 2, field amount: negative amount"):
        read_orders(path)


def test_future_order_is_refused_with_its_line(tmp_path):
    path = _write(tmp_path, "customer_id,ordered_at,amount\na,2024-01-01,4\na,2025-03-01,4\n")
    with pytest.raises(InputError, match=r"orders\.csv line 3: customer a: ordered_at 2025-03-01"):
        fit_value_model(model="bgnbd", orders=path, calibration_end=dt.date(2024, 6, 30),
                        as_of=AS_OF)


def test_too_few_repeat_buyers_is_reported_with_counts(tmp_path):
    path = _write(tmp_path, "customer_id,ordered_at,amount\na,2024-01-01,4\na,2024-02-01,4\n"
                            "b,2024-01-05,3\n")
    with pytest.raises(ModelFitError, match=r"only 1 customer\(s\) .* at least 10"):
        fit_value_model(model="pnbd", orders=path, calibration_end=dt.date(2024, 6, 30),
                        as_of=AS_OF)


def test_cohort_with_gap_in_periods_is_refused(tmp_path):
    path = _write(tmp_path, "period,alive\n0,100\n1,80\n3,60\n", "cohort.csv")
    with pytest.raises(InputError, match="expected period 2, found 3"):
        read_cohort(path)


def test_unknown_file_type_is_a_data_file_error(tmp_path):
    path = _write(tmp_path, "x", "orders.txt2")
    with pytest.raises(DataFileError, match="unknown file type"):
        read_orders(path)
