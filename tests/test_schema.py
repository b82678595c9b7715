"""Every bad input of SPEC.md 1 is refused with one message that names the field."""

import json

import pytest

from mecopt import InputError, load_instance
from mecopt.formulations import jrors, offloading, power
from mecopt.io import instance_from_dict, solution_from_dict


def base(problem):
    gen = {"offloading": lambda: offloading.generate(devices=3, servers=2, seed=0),
           "jrors": lambda: jrors.generate(preset="tiny", seed=0),
           "power": lambda: power.generate(preset="tiny", seed=0)}[problem]
    return gen().to_json_dict()


def refused(data, field):
    with pytest.raises(InputError) as err:
        instance_from_dict(data)
    msg = str(err.value)
    assert "\n" not in msg
    assert field in msg, msg
    return msg


@pytest.mark.parametrize("problem", ["offloading", "jrors", "power"])
def test_generated_instances_round_trip(problem, tmp_path):
    data = base(problem)
    p = tmp_path / "i.json"
    p.write_text(json.dumps(data))
    inst = load_instance(p)
    assert inst.to_json_dict() == data


def test_missing_field():
    d = base("offloading")
    del d["devices"][1]["cycles"]
    refused(d, "devices[1].cycles")


def test_unknown_field_is_a_typo():
    d = base("offloading")
    d["bandwith_hz"] = 1e6
    refused(d, "bandwith_hz")


def test_wrong_type():
    d = base("jrors")
    d["requests"][0]["priority"] = "high"
    refused(d, "requests[0].priority")


def test_numeric_string_is_not_a_number():
    d = base("power")
    d["bandwidth_hz"] = "2e7"
    refused(d, "bandwidth_hz")


@pytest.mark.parametrize("problem,path", [
    ("offloading", ("servers", 0, "cpu_hz")),
    ("jrors", ("requests", 1, "workload_cycles")),
    ("power", ("users", 0, "data_bits")),
])
def test_negative_size(problem, path):
    d = base(problem)
    tgt = d
    for p in path[:-1]:
        tgt = tgt[p]
    tgt[path[-1]] = -1.0
    refused(d, f"{path[0]}[{path[1]}].{path[2]}")


def test_nan_refused():
    d = base("offloading")
    d["noise_w"] = float("nan")
    refused(d, "noise_w")


def test_nan_in_file_refused(tmp_path):
    p = tmp_path / "nan.json"
    text = json.dumps(base("power")).replace('"noise_w": 1e-13', '"noise_w": NaN')
    assert "NaN" in text
    p.write_text(text)
    with pytest.raises(InputError):
        load_instance(p)


def test_weight_outside_unit_interval():
    d = base("offloading")
    d["devices"][2]["weight_time"] = 1.5
    refused(d, "devices[2].weight_time")


def test_matrix_wrong_shape_rows():
    d = base("offloading")
    d["gain"] = d["gain"][:-1]
    refused(d, "gain")


def test_matrix_wrong_shape_columns():
    d = base("jrors")
    d["uplink_bps"][2] = d["uplink_bps"][2][:-1]
    refused(d, "uplink_bps[2]")


def test_power_station_index_out_of_range():
    d = base("power")
    d["users"][0]["bs"] = 99
    refused(d, "users[0].bs")


def test_unknown_problem():
    d = base("power")
    d["problem"] = "scheduling"
    refused(d, "problem")


def test_wrong_schema_version():
    d = base("power")
    d["schema"] = "mecopt/v0"
    refused(d, "schema")


def test_jrors_station_zero_must_be_macro():
    d = base("jrors")
    d["stations"][0]["kind"] = "micro"
    refused(d, "stations")


def test_jrors_delays_ordered():
    d = base("jrors")
    d["requests"][0]["tolerable_delay_s"] = d["requests"][0]["ideal_delay_s"]
    refused(d, "tolerable_delay_s")


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_instance(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_instance(bad)


def test_solution_shape_checked():
    inst = offloading.generate(devices=3, servers=2, seed=0)
    sol = solution_from_dict(inst, {"assignment": [0, 1]})
    with pytest.raises(InputError, match="assignment"):
        offloading.evaluate(inst, sol)
    sol = solution_from_dict(inst, {"assignment": [0, 1, 5]})
    with pytest.raises(InputError, match=r"assignment\[2\]"):
        offloading.evaluate(inst, sol)


def test_json_schema_export():
    schema = offloading.Instance.model_json_schema(by_alias=True)
    assert "gain" in schema["properties"] and "schema" in schema["properties"]
    assert schema["additionalProperties"] is False
