"""`python -m payflow_testing.bench --help`."""

from payflow_testing.bench.cli import main

if __name__ == "__main__":
    main()
