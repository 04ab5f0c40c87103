"""The first-order deployment models (edge vs cloud, federated vs centralised) and their CLI."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from click.testing import CliRunner

from wattwise.carbon import DATACENTER_PUE, PROVIDER_PUE, load_zones
from wattwise.cli import main
from wattwise.deployment import COMM_KWH_PER_GB, edge_vs_cloud, federated_vs_centralised
from wattwise.exceptions import ConfigError

EDGE: dict[str, Any] = {
    "edge_power_w": 5.0,
    "edge_hours": 100.0,
    "edge_devices": 1000,
    "cloud_power_w": 300.0,
    "cloud_hours": 50.0,
    "cloud_data_gb": 200.0,
}
FEDERATED: dict[str, Any] = {
    "clients": 100,
    "client_power_w": 5.0,
    "local_hours_per_round": 0.1,
    "rounds": 500,
    "model_gb": 0.05,
    "server_power_w": 200.0,
    "server_hours": 50.0,
    "central_power_w": 400.0,
    "central_hours": 10.0,
    "central_devices": 4,
    "raw_data_gb": 50.0,
}
GIVEN: dict[str, Any] = {
    "comm_kwh_per_gb": 0.05,
    "pue": 1.5,
    "cloud_intensity_g_per_kwh": 100.0,
    "edge_intensity_g_per_kwh": 400.0,
}


def test_edge_vs_cloud_by_hand() -> None:
    c = edge_vs_cloud(**EDGE, **GIVEN)
    edge, cloud = c.option("edge"), c.option("cloud")
    # edge: 1,000 × 5 W × 100 h = 500 kWh at PUE 1, nothing moved
    assert (edge.compute_kwh, edge.communication_kwh, edge.facility_overhead_kwh) == (
        pytest.approx(500.0),
        0.0,
        0.0,
    )
    # cloud: 300 W × 50 h = 15 kWh IT; × (1.5 - 1) = 7.5 overhead; 200 GB × 0.05 = 10 kWh
    assert cloud.compute_kwh == pytest.approx(15.0)
    assert cloud.facility_overhead_kwh == pytest.approx(7.5)
    assert cloud.communication_kwh == pytest.approx(10.0)
    assert cloud.total_kwh == pytest.approx(15 + 7.5 + 10)
    # emissions: edge 500 × 400; cloud 22.5 × 100 + 10 × 400 (network at the edge's)
    assert edge.co2e_g == pytest.approx(500 * 400)
    assert cloud.co2e_g == pytest.approx(22.5 * 100 + 10 * 400)
    assert c.better_by_co2e == "cloud" and c.co2e_ratio == pytest.approx(200_000 / 6_250)
    assert c.better_by_energy == "cloud" and c.energy_ratio == pytest.approx(500 / 32.5)
    # a given communication intensity has no range, and the verdict is robust
    assert c.robust and cloud.total_low_kwh == cloud.total_high_kwh == cloud.total_kwh
    assert c.verdict() == "cloud emits 32× less than edge"
    assert (c.pue, c.comm_kwh_per_gb) == (1.5, 0.05)
    assert any("given by the user" in a for a in c.assumptions)


def test_default_constants_come_from_their_sources() -> None:
    c = edge_vs_cloud(**EDGE)
    assert c.comm_kwh_per_gb == COMM_KWH_PER_GB.central == 0.06
    assert c.pue == DATACENTER_PUE.value  # WORLD is no cloud region: industry average
    world = load_zones().get("WORLD").intensity_g_per_kwh
    assert c.cloud_intensity_g_per_kwh == c.edge_intensity_g_per_kwh == world
    cloud = c.option("cloud")
    assert cloud.communication_kwh == pytest.approx(200 * 0.06)
    # the range: the same 200 GB at 0.001 and 0.14 kWh/GB
    it = 15 * DATACENTER_PUE.value
    assert cloud.total_low_kwh == pytest.approx(it + 200 * 0.001)
    assert cloud.total_high_kwh == pytest.approx(it + 200 * 0.14)
    assert cloud.co2e_high_g == pytest.approx(it * world + 200 * 0.14 * world)
    text = "\n".join(c.assumptions)
    assert "Aslan" in text and "jiec.12630" in text and "Uptime" in text and "WORLD" in text

    fra = edge_vs_cloud(**EDGE, cloud_zone="FRA", edge_zone="DEU")
    zones = load_zones()
    assert fra.cloud_intensity_g_per_kwh == zones.get("FRA").intensity_g_per_kwh
    assert fra.edge_intensity_g_per_kwh == zones.get("DEU").intensity_g_per_kwh
    aws = edge_vs_cloud(**EDGE, cloud_zone="aws:ap-south-1")
    assert aws.pue == PROVIDER_PUE["aws"].value


def test_a_verdict_that_flips_within_the_range_is_not_robust() -> None:
    # edge: 10 W × 1 h = 0.01 kWh × 400 g = 4 g. cloud: 1 W × 1 h × 1.5 × 100 g = 0.15 g
    # plus 1 GB at 400 g/kWh: 0.4 g at 0.001 kWh/GB (cloud wins), 24 g at 0.06 (edge wins)
    args = {
        "edge_power_w": 10.0,
        "edge_hours": 1.0,
        "cloud_power_w": 1.0,
        "cloud_hours": 1.0,
        "cloud_data_gb": 1.0,
        "pue": 1.5,
        "cloud_intensity_g_per_kwh": 100.0,
        "edge_intensity_g_per_kwh": 400.0,
    }
    c = edge_vs_cloud(**args)
    assert c.option("cloud").co2e_g == pytest.approx(0.15 + 0.06 * 400)
    assert c.better_by_co2e == "edge" and not c.robust
    assert c.option("cloud").co2e_low_g == pytest.approx(0.15 + 0.001 * 400)
    assert "not robust" in c.verdict()
    assert edge_vs_cloud(**args, comm_kwh_per_gb=0.06).robust  # given: no range to test


def test_federated_vs_centralised_by_hand() -> None:
    c = federated_vs_centralised(**FEDERATED, **GIVEN)
    fl, central = c.option("federated"), c.option("centralised")
    clients = 100 * 5 * 0.1 * 500 / 1000  # 25 kWh on the clients, PUE 1
    server = 200 * 50 / 1000  # 10 kWh in the data centre
    moved = 500 * 0.05 * 2 * 100  # 5,000 GB: every client, down and up, every round
    assert fl.compute_kwh == pytest.approx(clients + server)
    assert fl.facility_overhead_kwh == pytest.approx(server * 0.5)
    assert fl.communication_kwh == pytest.approx(moved * 0.05)
    assert fl.total_kwh == pytest.approx(25 + 10 + 5 + 250)
    assert fl.co2e_g == pytest.approx(clients * 400 + server * 1.5 * 100 + 250 * 400)
    accel = 4 * 400 * 10 / 1000  # 16 kWh
    assert central.compute_kwh == pytest.approx(accel)
    assert central.facility_overhead_kwh == pytest.approx(accel * 0.5)
    assert central.communication_kwh == pytest.approx(50 * 0.05)
    assert central.co2e_g == pytest.approx(accel * 1.5 * 100 + 2.5 * 400)
    assert c.better_by_co2e == "centralised"
    assert c.co2e_ratio == pytest.approx(fl.co2e_g / central.co2e_g)
    assert "data moved = 500 rounds × 0.05 GB × 2 × 100 clients = 5,000 GB" in fl.formula
    assert any("Qiu et al." in a and "2102.07627" in a for a in c.assumptions)
    limits = "\n".join(c.limits)
    for word in ("idle", "embodied", "marginal", "stragglers", "non-IID"):
        assert word in limits


def test_federated_wins_when_it_moves_little_and_clients_are_clean() -> None:
    c = federated_vs_centralised(
        **{**FEDERATED, "rounds": 10, "model_gb": 0.001, "server_power_w": 0.0},
        comm_kwh_per_gb=0.05,
        pue=1.5,
        cloud_intensity_g_per_kwh=700.0,
        edge_intensity_g_per_kwh=20.0,
    )
    # federated: 100 × 5 W × 0.1 h × 10 = 0.5 kWh × 20 g + 2 GB × 0.05 × 20 g = 12 g
    assert c.option("federated").co2e_g == pytest.approx(0.5 * 20 + 2 * 0.05 * 20)
    # centralised: 16 kWh × 1.5 × 700 + 2.5 kWh × 20
    assert c.option("centralised").co2e_g == pytest.approx(16 * 1.5 * 700 + 2.5 * 20)
    assert c.better_by_co2e == "federated" and c.robust


def test_ties_and_nothing() -> None:
    same = edge_vs_cloud(
        edge_power_w=100.0,
        edge_hours=1.0,
        cloud_power_w=100.0,
        cloud_hours=1.0,
        pue=1.0,
        cloud_intensity_g_per_kwh=300.0,
        edge_intensity_g_per_kwh=300.0,
    )
    assert same.better_by_co2e == same.better_by_energy == "tie"
    assert same.co2e_ratio == same.energy_ratio == 1.0
    assert "emit the same" in same.verdict()
    zero = edge_vs_cloud(edge_power_w=0.0, edge_hours=1.0, cloud_power_w=1.0, cloud_hours=1.0)
    assert zero.better_by_energy == "edge" and zero.energy_ratio is None
    with pytest.raises(ConfigError, match="nothing to compare"):
        edge_vs_cloud(edge_power_w=0.0, edge_hours=1.0, cloud_power_w=1.0, cloud_hours=0.0)


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"edge_power_w": -1.0}, "edge_power_w"),
        ({"edge_hours": math.nan}, "edge_hours"),
        ({"cloud_data_gb": math.inf}, "cloud_data_gb"),
        ({"edge_devices": 0}, "edge_devices"),
        ({"cloud_devices": 1.5}, "cloud_devices"),
        ({"cloud_power_w": True}, "cloud_power_w"),
        ({"comm_kwh_per_gb": -0.1}, "comm_kwh_per_gb"),
        ({"pue": 0.5}, "pue"),
        ({"cloud_intensity_g_per_kwh": -3.0}, "cloud_intensity"),
        ({"edge_zone": "Narnia"}, "Narnia"),
    ],
)
def test_bad_input_is_a_one_line_config_error(change: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigError, match=name) as info:
        edge_vs_cloud(**{**EDGE, **change})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"clients": 0}, "clients"),
        ({"rounds": -2}, "rounds"),
        ({"model_gb": math.nan}, "model_gb"),
        ({"local_hours_per_round": -1.0}, "local_hours_per_round"),
        ({"server_hours": math.inf}, "server_hours"),
    ],
)
def test_bad_federated_input(change: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        federated_vs_centralised(**{**FEDERATED, **change})


def test_to_dict_is_json() -> None:
    c = federated_vs_centralised(**FEDERATED)
    doc = json.loads(json.dumps(c.to_dict()))
    assert doc["model"] == "federated-vs-centralised"
    assert [o["name"] for o in doc["options"]] == ["federated", "centralised"]
    assert doc["verdict"] == c.verdict() and doc["assumptions"] and doc["limits"]
    rows = c.rows()
    assert [r[0] for r in rows] == [
        "compute, kWh",
        "communication, kWh",
        "facility overhead, kWh",
        "total, kWh",
        "emissions, gCO2e",
    ]


# -- CLI -------------------------------------------------------------------------------------
EDGE_ARGS = [
    "deployment",
    "edge-vs-cloud",
    "--edge-power-w",
    "5",
    "--edge-hours",
    "100",
    "--edge-devices",
    "1000",
    "--cloud-power-w",
    "300",
    "--cloud-hours",
    "50",
    "--cloud-data-gb",
    "200",
    "--pue",
    "1.5",
    "--comm-kwh-per-gb",
    "0.05",
    "--cloud-intensity",
    "0.1 kg/kWh",
    "--edge-intensity",
    "400",
]


def test_cli_edge_vs_cloud_json() -> None:
    result = CliRunner().invoke(main, [*EDGE_ARGS, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    cloud = doc["options"][1]
    assert cloud["total_kwh"] == pytest.approx(15 + 7.5 + 10)
    assert cloud["co2e_g"] == pytest.approx(22.5 * 100 + 10 * 400)
    assert doc["better_by_co2e"] == "cloud" and doc["co2e_ratio"] == pytest.approx(32)


def test_cli_edge_vs_cloud_text() -> None:
    result = CliRunner().invoke(main, EDGE_ARGS)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        "facility overhead, kWh",
        "verdict: cloud emits 32× less than edge",
        "facility overhead = 15 kWh × (PUE 1.5 - 1) = 7.5 kWh",
        "assumptions:",
        "limits (left out of the model):",
        "embodied emissions",
    ):
        assert text in out


def test_cli_federated_defaults() -> None:
    args = [
        "deployment",
        "federated",
        "--clients",
        "100",
        "--client-power-w",
        "5",
        "--local-hours",
        "0.1",
        "--rounds",
        "500",
        "--model-gb",
        "0.05",
        "--central-power-w",
        "400",
        "--central-hours",
        "10",
        "--json",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["comm_kwh_per_gb"] == 0.06 and doc["pue"] == DATACENTER_PUE.value
    fl = doc["options"][0]
    assert fl["communication_kwh"] == pytest.approx(500 * 0.05 * 2 * 100 * 0.06)
    assert fl["total_low_kwh"] < fl["total_kwh"] < fl["total_high_kwh"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deployment", "federated", "--clients", "3"], "missing --client-power-w"),
        ([*EDGE_ARGS[:3], "-5", *EDGE_ARGS[4:]], "edge_power_w"),
        ([*EDGE_ARGS, "--cloud-zone", "Narnia"], "unknown zone 'Narnia'"),
        ([*EDGE_ARGS[:-1], "lots"], "intensity"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wattwise: error: "), result.stderr
    assert message in lines[0]
