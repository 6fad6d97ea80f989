from stsmeta.cli import main

raise SystemExit(main())
