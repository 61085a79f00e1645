"""Run localstripe in memory on loopback: ``python -m coaching.localstripe_server``.

The ``localstripe`` command binds every interface and shares its state with
every other instance through /tmp/localstripe.pickle; this entry point keeps
each instance private and local (see LOCALSTRIPE.md). Development and test
infrastructure only: production talks to real Stripe.
"""

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args()

    import localstripe.resources as resources

    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None

    from aiohttp import web
    from localstripe.server import app

    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
