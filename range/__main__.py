from range.cli.main import main

raise SystemExit(main())
