// The code editor (CodeMirror 6) for a project's text files.
import { json } from "@codemirror/lang-json";
import { python } from "@codemirror/lang-python";
import { EditorState, type Extension } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { useEffect, useRef } from "react";

function languageFor(path: string): Extension[] {
  if (path.endsWith(".py")) {
    return [python()];
  }
  if (path.endsWith(".json")) {
    return [json()];
  }
  return [];
}

export function CodeEditor({
  path,
  initial,
  onChange,
  readOnly,
}: {
  path: string;
  initial: string;
  onChange: (text: string) => void;
  readOnly?: boolean;
}) {
  const host = useRef<HTMLDivElement>(null);
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    const view = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: initial,
        extensions: [
          basicSetup,
          ...languageFor(path),
          EditorState.readOnly.of(!!readOnly),
          EditorView.contentAttributes.of({ "aria-label": `Contents of ${path}` }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) {
              changed.current(u.state.doc.toString());
            }
          }),
        ],
      }),
    });
    return () => view.destroy();
  }, [path, initial, readOnly]);

  return <div className="editor" ref={host} />;
}
