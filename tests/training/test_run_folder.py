"""The run folder constants live in a light module that readers of run folders import."""

import ast
import inspect

import goemox.calibration.calibrate
import goemox.training.run_folder as run_folder
import goemox.training.train


def test_run_folder_imports_no_training_stack_at_module_level():
    tree = ast.parse(inspect.getsource(run_folder))
    imported = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "platform", "goemox"}


def test_train_and_calibrate_share_the_run_folder_names():
    assert goemox.training.train.METRICS_FILE is run_folder.METRICS_FILE
    assert goemox.calibration.calibrate.RUN_CONFIG_FILE is run_folder.RUN_CONFIG_FILE
    assert run_folder.METRICS_SCHEMA_VERSION == 3
    assert {"torch", "transformers", "goemox"} <= set(run_folder.library_versions())
