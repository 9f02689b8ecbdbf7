"""The Flask peer: POST /predict and POST /echo call the model functions directly.

Served by serving_bench.py as `gunicorn -w 2 flask_app:app` (gunicorn's default sync workers, as
MLflow's classic scoring server ran), with the model directory (predict.py, model.pkl) on
PYTHONPATH.
"""

from flask import Flask, jsonify, request

from predict import echo, predict

app = Flask(__name__)


@app.post("/predict")
def predict_route():
    return jsonify(predict(request.get_json()))


@app.post("/echo")
def echo_route():
    return jsonify(echo(request.get_json()))
