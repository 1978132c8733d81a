"""Staff-only files (answer keys, rubric, catalogue of mistakes): never part of the handout."""
