from chaos.stt.server import main

main()
