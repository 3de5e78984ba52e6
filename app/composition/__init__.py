"""The only code that knows every part: `create_app` (factory.py), `build` and `gemini_from`
(build.py), `Background` (background.py) and `make run` (run_local.py)."""
