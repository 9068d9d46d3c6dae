from range.cli import main

raise SystemExit(main())
