

def test_ensemble_columns_are_labelled_by_their_members_names():
    from xling.report import _label

    config = {"fusion": "'ensemble:prob'", "members": repr(["/runs/ner-pawsx", "/runs/pos-pawsx"])}
    assert _label(config, ["fusion", "members"]) == "ensemble:prob members=ner-pawsx+pos-pawsx"
