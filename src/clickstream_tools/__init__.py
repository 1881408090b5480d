"""Seeded clickstream data (datagen) and live traffic (traffic) for the lab and tests."""
