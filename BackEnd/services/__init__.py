"""The product's logic, free of HTTP: each function takes what it needs explicitly."""
