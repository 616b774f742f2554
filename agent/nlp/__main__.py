from agent.nlp.service import main

main()
