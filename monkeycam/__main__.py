from monkeycam.cli import main

raise SystemExit(main())
