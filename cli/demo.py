"""`tagshare demo`: four real nodes on this machine, paired and sharing, changes timed live."""

import click

from tagshare.cli import output
from tagshare.cli.context import home_option
from tagshare.node.demo import run_demo


@click.command()
@home_option
@click.option("--people", default=200, show_default=True, type=click.IntRange(10, 5000),
              help="How many people the party starts with (about 40% volunteers).")
@click.option("--keep", is_flag=True,
              help="Leave the four nodes running afterwards and print how to reach them.")
@click.option("--seed", default=1, show_default=True, type=int,
              help="Seed for the generated people (same seed, same people).")
def demo(people: int, keep: bool, seed: int) -> None:
    """Run a state party and three campaigns on 127.0.0.1 and watch shares sync live.

    Everything happens in a temporary folder (--home is not used) and on
    loopback only; the nodes are stopped and the folder removed at the end,
    unless --keep.
    """
    result = run_demo(people=people, seed=seed, keep=keep, say=click.echo)
    click.echo()
    output.print_table(
        ["node", "url", "people", "shares in", "shares out", "status"],
        [[r["node"], r["url"], r["people"], r["shares_in"], r["shares_out"], r["status"]]
         for r in result.summary])
    click.echo()
    pids = [str(n["pid"]) for n in result.nodes]
    if result.kept:
        click.echo("The nodes keep running. Look around with, for example:")
        for info in result.nodes:
            click.echo(f"  {info['name']} ({info['url']}, log {info['log']}):")
            click.echo(f"    tagshare --home {info['home']} people list")
        click.echo(f"Stop them with: kill {' '.join(pids)}   (then rm -r {result.root})")
    else:
        click.echo(f"demo finished in {result.seconds:.1f} s; every node stopped, "
                   f"{result.root} removed")
