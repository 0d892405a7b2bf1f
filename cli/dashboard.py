"""`tagshare dashboard`: a one-time login link to the running node's dashboard."""

import webbrowser

import click

from tagshare.cli import output
from tagshare.cli.context import home_option, open_current_node
from tagshare.node.admin.dashboard import login_link
from tagshare.node.admin.dashboard.login import LOGIN_SECONDS
from tagshare.node.clock import system_clock


@click.command()
@home_option
@click.option("--open", "open_browser", is_flag=True,
              help="Also open the link in this machine's web browser.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def dashboard(open_browser: bool, as_json: bool) -> None:
    """Print a one-time login link to the dashboard of the running `tagshare serve`."""
    link = login_link(open_current_node(), system_clock())
    if as_json:
        output.print_json({"url": link, "expires_in": LOGIN_SECONDS})
    else:
        click.echo(link)
        click.echo(f"(works once, within {LOGIN_SECONDS // 60} minutes)", err=True)
    if open_browser and not webbrowser.open(link):
        click.echo("no web browser found here: open the link yourself", err=True)
