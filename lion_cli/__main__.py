from lion_cli.cli.app import main

main()
