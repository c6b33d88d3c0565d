"""Demo data: a realistic provider, filled one transaction per person."""
import click


@click.command("demo")
@click.option("--people", default=50, show_default=True)
@click.option("--months", default=12, show_default=True)
@click.option("--seed", default=1, show_default=True)
def demo_cmd(people, months, seed):
    """Fill the ledger with a demo provider."""
    raise click.ClickException("demo data is being written")
