import json

from hypothesis import given, settings
from hypothesis import strategies as st

from lanes_tui.core import jsonout

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)


@given(json_values)
@settings(max_examples=300)
def test_same_bytes_as_json_dumps_indent_2_sorted(value):
    assert jsonout.dumps(value) == json.dumps(value, indent=2, sort_keys=True)


def test_non_ascii_and_control_characters_are_escaped_like_the_stdlib():
    value = {"b": "caf\u00e9 \u202e \x1b[31m", "a": ["\n", "\u0000"]}
    assert jsonout.dumps(value) == json.dumps(value, indent=2, sort_keys=True)
