"""Herald core: settings, database models, shared schemas and the command line."""
