from vcluster.cli.main import main

main()
