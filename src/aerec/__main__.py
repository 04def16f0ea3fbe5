from aerec.cli import main

main()
