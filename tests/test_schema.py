from mbm_helpers import schema


def test_115_features_in_file_order(real_sample_dir):
    header = (real_sample_dir / "Danmini_Doorbell" / "benign_traffic.csv").read_text().splitlines()[0]
    assert tuple(header.split(",")) == schema.FEATURES


def test_devices_attacks_and_groups():
    assert len(schema.DEVICES) == 9
    assert set(schema.DEVICES_WITHOUT_MIRAI) == {"Ennio_Doorbell", "Samsung_SNH_1011_N_Webcam"}
    assert len(schema.ATTACKS) == 10 and schema.CLASSES[0] == "benign"
    assert sum(len(schema.files_of(d)) for d in schema.DEVICE_NAMES) == 89
    assert schema.feature_group("HH_jit_L0.1_mean") == "HH_jit"
    assert schema.feature_group("HpHp_L5_pcc") == "HpHp"
    assert schema.device(3).name == "Ennio_Doorbell"


def test_unknown_names_raise_with_the_name():
    import pytest

    with pytest.raises(KeyError, match="Fridge"):
        schema.device("Fridge")
    with pytest.raises(KeyError, match="bogus"):
        schema.attack_label("mirai", "bogus")


def test_official_row_counts_match_the_published_totals():
    counts = schema.OFFICIAL_ROW_COUNTS
    assert sum(sum(c.values()) for c in counts.values()) == 7_062_606
    assert sum(c["benign"] for c in counts.values()) == 555_932
    assert sum(len(c) for c in counts.values()) == 89
    for d in schema.DEVICES:
        assert [label for _, label in schema.files_of(d.name)] == list(counts[d.id])
