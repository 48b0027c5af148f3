"""Functions triggers: adapt azure.functions objects to the core and back. No routing logic here."""
