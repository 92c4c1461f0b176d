import pytest

from blocklab.report.tables import Table, format_cell


def test_cells_are_plain_text_with_whole_numbers_grouped():
    assert [format_cell(v) for v in (63082496, 2.0, 0.123456, None, "65M", True)] == \
        ["63,082,496", "2", "0.1235", "—", "65M", "True"]


def test_a_row_of_the_wrong_width_is_refused_by_index():
    with pytest.raises(ValueError, match="row 1 has 1 cells for 2 headers"):
        Table("t", ["a", "b"], [[1, 2], [3]])
