"""What every part of the platform shares: JSON logs, EMF metrics and JSON types.

Both Lambda zips carry this package beside their own (role lambda_package),
so it depends on the standard library only.
"""
