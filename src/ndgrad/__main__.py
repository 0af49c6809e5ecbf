from ndgrad.cli import main

main()
