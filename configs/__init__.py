# The configs ship inside the curvegan package as curvegan.conf (see pyproject.toml); this file makes them one.
