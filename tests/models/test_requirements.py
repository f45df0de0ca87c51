"""Which installed distributions provide a module: the fast lookup the pins use agrees with
``importlib.metadata.packages_distributions()``, the slow one it replaces."""

from __future__ import annotations

from importlib.metadata import packages_distributions

from cairn.client.models.requirements import owners_of, pinned_requirements


def test_the_owners_of_every_installed_top_level_module_are_the_standard_ones() -> None:
    expected = packages_distributions()
    pinned_requirements(expected)  # one walk over the distributions for all of them
    for module in expected:
        assert sorted(owners_of(module)) == sorted(set(expected[module])), module


def test_a_module_no_distribution_provides_pins_nothing() -> None:
    assert owners_of("__main__") == ()
    assert pinned_requirements(["__main__", "no_such_module_here"]) == []


def test_pins_name_the_distribution_not_the_module_and_drop_local_labels() -> None:
    pins = pinned_requirements(["sklearn.svm._classes", "numpy"])
    names = [pin.split("==")[0] for pin in pins]
    assert names == ["numpy", "scikit-learn"]
    assert all("+" not in pin for pin in pins)
