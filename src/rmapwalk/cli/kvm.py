"""What the KVM commands share (``check kvm``, and ``replay`` and ``mutate kvm`` of their files):
finding a scenario, the ``--preset``/``--set`` switch values, the file a scenario is defined in."""

from __future__ import annotations

import inspect
import os
from typing import TYPE_CHECKING, Any

from rmapwalk.cli.common import Fail
from rmapwalk.kvm import scenarios as scenarios_pkg
from rmapwalk.kvm.presets import preset_switches
from rmapwalk.kvm.scenarios import SCENARIOS, Scenario
from rmapwalk.kvm.switches import SWITCHES, Switches

if TYPE_CHECKING:
    from rmapwalk.engine.program import Program


def find_scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise Fail(f"unknown scenario {name!r}; valid scenarios: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


def parse_sets(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` switch settings, validated against the switch table (one-line ``Fail``s)."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key:
            raise Fail(f"--set {item!r}: expected KEY=VALUE; valid switches: {', '.join(SWITCHES)}")
        sw = SWITCHES.get(key)
        if sw is None:
            raise Fail(f"unknown switch {key!r}; valid switches: {', '.join(SWITCHES)}")
        val: Any = value
        if sw.values is None:
            try:
                val = int(value, 0)
            except ValueError:
                raise Fail(f"switch {key}: {value!r} is not an int ({sw.allowed})") from None
        try:
            out[key] = sw.validate(val)
        except ValueError as e:
            raise Fail(str(e)) from None
    return out


def kvm_switches(sc: Scenario, preset: str | None, sets: dict[str, Any]) -> Switches:
    """The switches of a ``check kvm`` run: the scenario's base over the preset, then the sets."""
    base = None
    if preset is not None:
        try:
            base = preset_switches(preset)
        except ValueError as e:
            raise Fail(str(e)) from None
    try:
        return sc.switches(base, **sets)
    except ValueError as e:
        raise Fail(str(e)) from None


def scenario_source(sc: Scenario) -> str:
    """The file defining ``sc`` (recorded in replay files to notice later edits)."""
    try:
        f = inspect.getsourcefile(sc.build_fn)
    except TypeError:
        f = None
    return os.path.abspath(f or inspect.getfile(scenarios_pkg))


def kvm_program_from_replay(data: dict[str, Any], shown: str) -> Program:
    """Rebuild the scenario program a ``check kvm`` replay file was recorded from."""
    k = data["kvm"]
    name = k.get("scenario")
    if not isinstance(name, str):
        raise Fail(f"{shown}: bad replay file: 'kvm.scenario' should be a string")
    if name not in SCENARIOS:
        raise Fail(f"{shown}: unknown scenario {name!r}; valid scenarios: {', '.join(SCENARIOS)}")
    values = k.get("switches")
    if not isinstance(values, dict):
        raise Fail(f"{shown}: bad replay file: 'kvm.switches' should be an object")
    try:
        sw = Switches.from_dict(values)
    except ValueError as e:
        raise Fail(f"{shown}: bad replay file: {e}") from None
    return SCENARIOS[name].build(sw)


