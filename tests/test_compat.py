"""The transformers compatibility layer: the version check, and the names it reads the loop by."""

from __future__ import annotations

import pytest
import transformers
from packaging.version import Version

from datadiet.integrations import compat


@pytest.mark.parametrize("version", ["4.57.1", "4.57.6", "5.0.0", "5.23.0", "5.99.0"])
def test_supported_versions_pass(version):
    compat.check_transformers_version(version)


@pytest.mark.parametrize("version", ["4.56.2", "4.57.0", "6.0.0", "6.0.0.dev0", "7.1.0"])
def test_versions_outside_the_range_are_refused_with_what_to_install(version):
    with pytest.raises(RuntimeError, match=rf"supports transformers >=4\.57\.1,<6 .*transformers {version} is "
                                           r"installed\. Install a supported one: pip install \"transformers>=4\.57\.1,<6\""):
        compat.check_transformers_version(version)


def test_the_installed_version_is_supported_and_its_loop_layout_known():
    compat.check_transformers_version()
    # the split loop (_init_training_state, _run_epoch) arrived in 5.5; 4.57-5.4 have one function
    assert compat.SPLIT_LOOP == (Version(transformers.__version__) >= Version("5.5"))
    names = compat.TRAINING_VALUE_NAMES
    assert {"num_train_epochs", "num_update_steps_per_epoch", "max_steps"} <= set(names) and len(names) == 7
