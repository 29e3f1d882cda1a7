from xling.cli import main

raise SystemExit(main())
