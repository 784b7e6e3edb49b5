"""A real local Ray for the sweep tests: `ray.init(num_cpus=2, include_dashboard=False)`, always shut down.

Importing this module imports Ray; only the Ray tests import it."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray's single-node mode: loopback only
import ray  # noqa: E402
import ray.cloudpickle  # noqa: E402
import sweep_tasks  # noqa: E402

# the test task module lives in tests/, which Ray's workers do not have on their path: ship it by value
ray.cloudpickle.register_pickle_by_value(sweep_tasks)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        yield ray
    finally:
        ray.shutdown()
