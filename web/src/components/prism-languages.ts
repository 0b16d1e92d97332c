/**
 * prism-react-renderer bundles Python, JavaScript and JSON but not Java or shell: add
 * Prism's own grammars for them (imported after prism-global, which they need). They
 * register on the Prism that <Highlight> uses by default, so every CodeBlock gets them.
 */
import './prism-global';
import 'prismjs/components/prism-java';
import 'prismjs/components/prism-bash';
