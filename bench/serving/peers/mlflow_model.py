"""The MLflow peer: the model functions as pyfunc models, saved for `mlflow models serve`.

    bench/.venv/bin/python mlflow_model.py MODEL_DIR OUT_DIR predict|echo

saves a pyfunc model to OUT_DIR (which must not exist) whose predict() calls the function of that
name in MODEL_DIR/predict.py. It is saved the way MLflow 3 recommends, as "models from code": this
file is the model's code, and `model_config` names the function. predict.py and model.pkl go into
the saved model's code/ directory (`code_paths`), which MLflow puts on sys.path when it loads the
model, so the served function is the very same file. No signature and no type hints: MLflow then
passes the request's "inputs" to the model as a numpy array, unchecked:

- predict: {"inputs": [[5.1, 3.5, 1.4, 0.2]]} -> predict({"x": <1x4 array>}) -> {"predictions": {"y": [0]}}
- echo:    {"inputs": [[5.1, 3.5, 1.4, 0.2]]} -> echo(<1x4 array>) -> {"predictions": [[5.1, 3.5, 1.4, 0.2]]}
"""

import sys
import warnings
from pathlib import Path

import mlflow.models
import mlflow.pyfunc

# MLflow suggests type hints on predict(); this model takes its input unchecked on purpose.
warnings.filterwarnings("ignore", message=".*type hints.*")


class FunctionModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        import predict as functions

        self.function = context.model_config["function"]
        self.call = getattr(functions, self.function)

    def predict(self, context, model_input, params=None):
        if self.function == "predict":
            return self.call({"x": model_input})
        return self.call(model_input)


mlflow.models.set_model(FunctionModel())


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("predict", "echo"):
        sys.exit(f"usage: {sys.argv[0]} MODEL_DIR OUT_DIR predict|echo")
    model_dir, out, function = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    mlflow.pyfunc.save_model(
        out,
        python_model=str(Path(__file__).resolve()),
        model_config={"function": function},
        code_paths=[str(model_dir / "predict.py"), str(model_dir / "model.pkl")],
        # The serving environment is the benchmark virtualenv itself (--env-manager local).
        pip_requirements=[],
    )


if __name__ == "__main__":
    main()
