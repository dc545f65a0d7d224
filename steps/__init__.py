"""pytest-bdd step definitions: they parse the Gherkin text and call the drill engine."""
