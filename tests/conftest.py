pytest_plugins = ["bpm_common.testing.plugin"]
