"""GraphQL types, one module per concept; each declares exactly the fields it exposes."""
