"""Page state keys write and read their own link values (app_ui.state.Key)."""
import pytest

from app_ui.state import LABEL, LABELS, PAGE_STATE, VIEW, Key


@pytest.mark.parametrize("kind, value, text", [
    (str, "a text", "a text"), (int, 7, "7"), (bool, True, "1"), (list, ["3", "5", "8"], "3,5,8"),
    (LABEL, "Sports", "Sports"), (LABELS, ["World", "Sports"], "World,Sports"), (VIEW, [-2.0, 3.0, 0.5, 4.5], "-2,3,0.5,4.5"),
])
def test_a_value_goes_into_the_link_and_comes_back(kind, value, text):
    key = Key("k", "p", kind)
    assert key.encode(value) == text
    assert key.decode([text]) == value


@pytest.mark.parametrize("kind, empty", [(str, ""), (list, []), (bool, False), (int, None), (int, "not a row"),
                                         (VIEW, None)])
def test_an_empty_value_stays_out_of_the_link(kind, empty):
    assert Key("k", "p", kind).encode(empty) is None


@pytest.mark.parametrize("kind, raw", [(int, "x"), (VIEW, "1,2,nope"), (VIEW, "3,1,0,1"), (VIEW, "0,1,0"),
                                       (VIEW, "0,inf,0,1")])
def test_a_malformed_value_is_refused(kind, raw):
    with pytest.raises(ValueError):
        Key("k", "p", kind).decode([raw])


def test_long_values_are_cut_and_every_link_key_is_declared_once():
    assert len(Key("k", "p").encode("x" * 5000)) == 2000
    assert len(Key("k", "p", list).encode(list(range(1000))).split(",")) == 300
    params = [(page, k.param) for page, keys in PAGE_STATE.items() for k in keys if k.param]
    for page in PAGE_STATE:
        mine = [p for pg, p in params if pg == page]
        assert len(mine) == len(set(mine)), f"{page} declares a query parameter twice"
