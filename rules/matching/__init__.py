"""Which events a rule sees: ``match`` selections and their modifiers, safe regular
expressions, the ``where`` expression language, and output templates."""
