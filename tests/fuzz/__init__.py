"""Contracts and fuzzing: schemathesis against the OpenAPI document (`api`), and atheris over
the zip index builder and member reader (`zips`). Each is a module `make fuzz` runs for long;
the tests here run each for a bounded number of examples."""
